import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

/**
 * bcrypt's cost factor for agents' NATS passwords. The passwords are 144 random bits, which no cost
 * factor makes harder to guess; the factor only costs nats-server time on every connect (and AM on every
 * registration), so it is the lowest bcrypt allows but for a margin.
 */
const BCRYPT_COST = 6;

/** A new NATS password for an agent: shown once, stored only as its bcrypt hash. */
export function generateNatsPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** The bcrypt hash nats-server accepts in place of the password (`$2b$06$…`). */
export function hashNatsPassword(password: string): Promise<string> {
  return bcrypt.hash(password, BCRYPT_COST);
}
