import type Database from 'better-sqlite3';
import type { AgentRole, AgentState } from '../events/index.ts';
import type { Migration } from './migration.ts';

/**
 * The agent registry: role, SHA-256 of the token and bcrypt hash of the NATS password (never either
 * secret), status, and the stream sequence of a revocation (the fold voids claims stored after it).
 */
export const agentsMigrations: Migration[] = [
  {
    id: 'agents-1',
    up: `CREATE TABLE agents (
      id TEXT PRIMARY KEY,
      role TEXT NOT NULL,
      token_hash TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at TEXT NOT NULL,
      revoked_at TEXT,
      last_seq INTEGER NOT NULL
    );
    CREATE INDEX agents_by_token ON agents (token_hash);`,
  },
  {
    // An agent revoked before this column existed was revoked by its subject's last event (nothing is
    // appended to an agent after its revocation but a refused rotation, which appends nothing).
    id: 'agents-2',
    up: `ALTER TABLE agents ADD COLUMN nats_password_hash TEXT;
    ALTER TABLE agents ADD COLUMN revoked_seq INTEGER;
    UPDATE agents SET revoked_seq = last_seq WHERE status = 'revoked';`,
  },
];

interface AgentRow {
  id: string;
  role: string;
  token_hash: string;
  status: string;
  created_at: string;
  revoked_at: string | null;
  nats_password_hash: string | null;
  revoked_seq: number | null;
  last_seq: number;
}

/** An active agent's NATS user, as a server config lists it. */
export interface AgentNatsUser {
  agentId: string;
  role: AgentRole;
  natsPasswordHash: string;
}

export class AgentsProjection {
  private readonly upsert: Database.Statement<AgentRow>;
  private readonly byId: Database.Statement<[string], AgentRow>;
  private readonly byToken: Database.Statement<[string], AgentRow>;
  private readonly listAll: Database.Statement<[], AgentRow>;
  private readonly revokedSeqOf: Database.Statement<[string], { revoked_seq: number | null }>;
  private readonly withNatsUser: Database.Statement<[], AgentRow>;

  constructor(db: Database.Database) {
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO agents
         (id, role, token_hash, status, created_at, revoked_at, nats_password_hash, revoked_seq, last_seq)
       VALUES (@id, @role, @token_hash, @status, @created_at, @revoked_at, @nats_password_hash, @revoked_seq,
         @last_seq)`,
    );
    this.revokedSeqOf = db.prepare('SELECT revoked_seq FROM agents WHERE id = ?');
    this.withNatsUser = db.prepare(
      `SELECT * FROM agents WHERE status = 'active' AND nats_password_hash IS NOT NULL ORDER BY id`,
    );
    this.byId = db.prepare('SELECT * FROM agents WHERE id = ?');
    this.byToken = db.prepare('SELECT * FROM agents WHERE token_hash = ?');
    this.listAll = db.prepare('SELECT * FROM agents ORDER BY created_at, id');
  }

  write(agent: AgentState): void {
    this.upsert.run({
      id: agent.id,
      role: agent.role,
      token_hash: agent.tokenHash,
      status: agent.status,
      created_at: agent.createdAt,
      revoked_at: agent.revokedAt,
      nats_password_hash: agent.natsPasswordHash,
      revoked_seq: agent.revokedSeq,
      last_seq: agent.lastSeq,
    });
  }

  /** The stream sequence of the agent's revocation; null while it is active (or unknown). */
  revokedSeq(agentId: string): number | null {
    return this.revokedSeqOf.get(agentId)?.revoked_seq ?? null;
  }

  /** Active agents that have a NATS password: the users a server config lists. */
  natsUsers(): AgentNatsUser[] {
    return this.withNatsUser.all().map((row) => ({
      agentId: row.id,
      role: row.role as AgentRole,
      natsPasswordHash: row.nats_password_hash!,
    }));
  }

  get(agentId: string): AgentState | null {
    const row = this.byId.get(agentId);
    return row ? agentState(row) : null;
  }

  /** Looks an agent up by the SHA-256 of a presented token. */
  byTokenHash(tokenHash: string): AgentState | null {
    const row = this.byToken.get(tokenHash);
    return row ? agentState(row) : null;
  }

  list(): AgentState[] {
    return this.listAll.all().map(agentState);
  }
}

function agentState(row: AgentRow): AgentState {
  return {
    id: row.id,
    role: row.role as AgentRole,
    tokenHash: row.token_hash,
    status: row.status as AgentState['status'],
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    natsPasswordHash: row.nats_password_hash,
    revokedSeq: row.revoked_seq,
    lastSeq: row.last_seq,
  };
}
