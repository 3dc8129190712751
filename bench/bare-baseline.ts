/**
 * The bare baselines: a plain node:http server (bare-http.ts: no framework, no MCP, no auth) that
 * parses add_message's JSON body, writes with better-sqlite3 (same pragmas as ours) and replies.
 * Runs as a benchmark child: prints { url, sessionId, mode, dataDir } on stdout.
 *
 * BARE_MODE=minimal: the fastest possible write — one prepared insert per request, committed on
 *   its own, into a table with the message's columns and no secondary index, foreign key or audit.
 *   The question it answers: how close is the server to the leanest way to accept a message?
 * BARE_MODE=insert (default, also bench:pg's SQLite row): the same insert into a `messages` table
 *   identical to ours (its indexes and foreign key).
 * BARE_MODE=full: what MessageService.add does in SQL — one transaction with the session lookup,
 *   the insert (RETURNING *) and the audit row — still without any framework: the same SQL, so the
 *   difference to the server is the server layer (HTTP routing, auth, validation, JSON-RPC, MCP).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type BareBody, type BareRow, rowValues, serveBare } from './bare-http.js';

/** The tables add_message touches, as migration 0001 creates them on SQLite. */
export const SCHEMA = `
CREATE TABLE "sessions" ("session_id" text primary key, "purpose" text not null, "status" text not null,
  "created_by" text not null, "created_at" integer not null, "updated_at" integer not null, "metadata" text not null);
CREATE INDEX "sessions_status_updated" on "sessions" ("status", "updated_at");
CREATE INDEX "sessions_created_by" on "sessions" ("created_by", "created_at");
CREATE TABLE "messages" ("id" integer primary key autoincrement,
  "session_id" text not null references "sessions" ("session_id") on delete cascade, "sender" text not null,
  "sender_type" text not null, "content" text not null, "visibility" text not null, "message_type" text not null,
  "metadata" text not null, "parent_message_id" integer, "created_at" integer not null);
CREATE INDEX "messages_session_id" on "messages" ("session_id", "id");
CREATE INDEX "messages_session_sender" on "messages" ("session_id", "sender", "id");
CREATE INDEX "messages_session_time" on "messages" ("session_id", "created_at");
CREATE INDEX "messages_parent" on "messages" ("parent_message_id");
CREATE TABLE "audit_log" ("id" integer primary key autoincrement, "created_at" integer not null,
  "agent_id" text not null, "action" text not null, "session_id" text, "resource" text, "details" text not null);
CREATE INDEX "audit_session" on "audit_log" ("session_id", "id");
CREATE INDEX "audit_agent" on "audit_log" ("agent_id", "id");
CREATE INDEX "audit_time" on "audit_log" ("created_at");
`;

/** The minimal mode's table: the message's columns, nothing else to maintain. */
const MINIMAL_SCHEMA = `
CREATE TABLE "minimal_messages" ("id" integer primary key, "session_id" text not null, "sender" text not null,
  "sender_type" text not null, "content" text not null, "visibility" text not null, "message_type" text not null,
  "metadata" text not null, "parent_message_id" integer, "created_at" integer not null);
`;

const MODES = ['minimal', 'insert', 'full'] as const;
const mode = MODES.find((m) => m === process.env.BARE_MODE) ?? 'insert';
const dataDir = mkdtempSync(path.join(tmpdir(), 'scs-bare-'));
const db = new Database(path.join(dataDir, 'bare.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
db.exec(SCHEMA + MINIMAL_SCHEMA);

const sessionId = 'session_00000000000000aa';
const agentId = 'bench-agent';
const now = Date.now();
db.prepare(
  `INSERT INTO sessions (session_id, purpose, status, created_by, created_at, updated_at, metadata)
   VALUES (?, 'bare baseline', 'active', ?, ?, ?, 'null')`,
).run(sessionId, agentId, now, now);

const insertMessage = db.prepare<unknown[], { id: number; created_at: number }>(
  `INSERT INTO ${mode === 'minimal' ? 'minimal_messages' : 'messages'} (session_id, sender, sender_type, content, visibility, message_type, metadata,
     parent_message_id, created_at)
   VALUES (?, ?, 'generic', ?, ?, ?, ?, NULL, ?) RETURNING ${mode === 'full' ? '*' : 'id, created_at'}`,
);
const findSession = db.prepare<[string], { status: string }>('SELECT * FROM sessions WHERE session_id = ?');
const insertAudit = db.prepare(
  `INSERT INTO audit_log (created_at, agent_id, action, session_id, resource, details)
   VALUES (?, ?, 'add_message', ?, ?, ?)`,
);

const insert = (body: BareBody): BareRow => insertMessage.get(...rowValues(body, agentId))!;

const insertFull = db.transaction((body: BareBody) => {
  const session = findSession.get(String(body.session_id));
  if (session === undefined || session.status === 'archived') throw new Error('no such session');
  const row = insert(body);
  insertAudit.run(
    Date.now(),
    agentId,
    String(body.session_id),
    `message:${row.id}`,
    JSON.stringify({
      visibility: body.visibility ?? 'public',
      message_type: body.message_type ?? 'agent_response',
    }),
  );
  return row;
});

serveBare(mode === 'full' ? insertFull : insert, { sessionId, mode, dataDir }, async () => {
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
});
