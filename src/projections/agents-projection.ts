import type Database from 'better-sqlite3';
import type { AgentRole, AgentState } from '../events/index.ts';
import type { Migration } from './migration.ts';

/** The agent registry: role, SHA-256 of the token (never the token), status. */
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
];

interface AgentRow {
  id: string;
  role: string;
  token_hash: string;
  status: string;
  created_at: string;
  revoked_at: string | null;
  last_seq: number;
}

export class AgentsProjection {
  private readonly upsert: Database.Statement<AgentRow>;
  private readonly byId: Database.Statement<[string], AgentRow>;
  private readonly byToken: Database.Statement<[string], AgentRow>;
  private readonly listAll: Database.Statement<[], AgentRow>;

  constructor(db: Database.Database) {
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO agents (id, role, token_hash, status, created_at, revoked_at, last_seq)
       VALUES (@id, @role, @token_hash, @status, @created_at, @revoked_at, @last_seq)`,
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
      last_seq: agent.lastSeq,
    });
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
    lastSeq: row.last_seq,
  };
}
