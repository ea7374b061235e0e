/* store_sqlite_schema — every table and every query of the SQLite store, as data.
 *
 * Owns the migrations and the text of each cached statement (the ids are in
 * store_sqlite_internal.h). Migrations are numbered from 1 and never edited
 * once released: a change to the schema is a new migration appended at the
 * end, which store_sqlite.c applies in the same transaction as the others
 * still pending and records in schema_version. Statuses and roles are stored
 * as their names (readable with the sqlite3 shell) and checked by CHECK
 * constraints; times are integer milliseconds; JSON documents are text the
 * store parses only when they are read. */
#include "store/store_sqlite_internal.h"

static const char migration_1[] =
    "CREATE TABLE session("
    "  id TEXT PRIMARY KEY,"
    "  owner TEXT NOT NULL DEFAULT '',"
    "  title TEXT NOT NULL DEFAULT '',"
    "  doc TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE INDEX session_by_updated ON session(updated_ms);"
    "CREATE INDEX session_by_owner ON session(owner, updated_ms);"

    "CREATE TABLE run("
    "  id TEXT PRIMARY KEY,"
    "  workflow TEXT NOT NULL,"
    "  dedupe_key TEXT UNIQUE,"
    "  input TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('pending', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')),"
    "  current_step TEXT NOT NULL DEFAULT '',"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL DEFAULT 0,"
    "  wake_at_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX run_by_created ON run(created_ms);"
    "CREATE INDEX run_by_status ON run(status, wake_at_ms);"

    "CREATE TABLE run_step("
    "  run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),"
    "  output TEXT,"
    "  attempts INTEGER NOT NULL,"
    "  error TEXT,"
    "  started_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (run_id, name));"

    "CREATE TABLE lease("
    "  name TEXT PRIMARY KEY,"
    "  owner TEXT NOT NULL,"
    "  acquired_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL);"

    "CREATE TABLE checkpoint("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"

    "CREATE TABLE app_user("
    "  name TEXT PRIMARY KEY,"
    "  role TEXT NOT NULL CHECK (role IN ('rep', 'manager', 'admin')),"
    "  team TEXT NOT NULL DEFAULT '',"
    "  password_hash TEXT NOT NULL DEFAULT '',"
    "  created_ms INTEGER NOT NULL);"
    "CREATE INDEX app_user_by_team ON app_user(team, name);"

    "CREATE TABLE token("
    "  hash TEXT PRIMARY KEY,"
    "  user_name TEXT NOT NULL REFERENCES app_user(name) ON DELETE CASCADE,"
    "  label TEXT NOT NULL DEFAULT '',"
    "  created_ms INTEGER NOT NULL,"
    "  last_used_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX token_by_user ON token(user_name);";

const struct store_sq_migration store_sq_migrations[] = {
    {1, "sessions, runs, steps, leases, checkpoints, users, tokens", migration_1},
};
const int store_sq_schema_latest =
    (int)(sizeof store_sq_migrations / sizeof store_sq_migrations[0]);

#define SESSION_COLS "id, owner, title, version, created_ms, updated_ms"
#define RUN_COLS                                                                                   \
    "id, workflow, dedupe_key, input, status, current_step, attempts, last_error, created_ms, "    \
    "updated_ms, finished_ms, wake_at_ms"
#define STEP_COLS     "name, status, output, attempts, error, started_ms, finished_ms"
#define STEP_NEXT_SEQ "(SELECT coalesce(max(seq), 0) + 1 FROM run_step WHERE run_id = ?1)"
#define USER_COLS     "name, role, team, password_hash, created_ms"
#define TOKEN_COLS    "hash, user_name, label, created_ms, last_used_ms"

const char *const store_sq_sql[SQ_COUNT] = {
    [SQ_BEGIN_READ] = "BEGIN",
    [SQ_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",

    [SQ_SESSION_GET] = "SELECT " SESSION_COLS ", doc FROM session WHERE id = ?1",
    [SQ_SESSION_INSERT] = "INSERT INTO session(id, owner, title, doc, version, created_ms, "
                          "updated_ms) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5) "
                          "ON CONFLICT (id) DO NOTHING",
    [SQ_SESSION_UPDATE] = "UPDATE session SET owner = coalesce(?2, owner), "
                          "title = coalesce(?3, title), doc = ?4, version = version + 1, "
                          "updated_ms = ?5 WHERE id = ?1 AND version = ?6",
    [SQ_SESSION_VERSION] = "SELECT version FROM session WHERE id = ?1",
    [SQ_SESSION_LIST_ALL] = "SELECT " SESSION_COLS " FROM session "
                            "ORDER BY updated_ms DESC, id LIMIT ?1 OFFSET ?2",
    [SQ_SESSION_LIST_OWNER] = "SELECT " SESSION_COLS " FROM session WHERE owner = ?3 "
                              "ORDER BY updated_ms DESC, id LIMIT ?1 OFFSET ?2",
    [SQ_SESSION_DELETE] = "DELETE FROM session WHERE id = ?1",
    [SQ_SESSION_DELETE_IDLE] = "DELETE FROM session WHERE updated_ms < ?1",

    [SQ_RUN_GET] = "SELECT " RUN_COLS " FROM run WHERE id = ?1",
    [SQ_RUN_BY_KEY] = "SELECT " RUN_COLS " FROM run WHERE dedupe_key = ?1",
    [SQ_RUN_LIST] = "SELECT " RUN_COLS " FROM run "
                    "WHERE status IN (SELECT value FROM json_each(?1)) "
                    "AND (?2 IS NULL OR workflow = ?2) "
                    "ORDER BY created_ms DESC, rowid DESC LIMIT ?3 OFFSET ?4",
    [SQ_RUN_DUE] = "SELECT " RUN_COLS " FROM run "
                   "WHERE (status IN ('pending', 'waiting') AND wake_at_ms <= ?1) "
                   "OR (status = 'running' AND wake_at_ms > 0 AND wake_at_ms <= ?1) "
                   "ORDER BY wake_at_ms, created_ms, rowid LIMIT ?2",
    [SQ_RUN_INSERT] = "INSERT INTO run(id, workflow, dedupe_key, input, status, created_ms, "
                      "updated_ms, wake_at_ms) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5, ?6) "
                      "ON CONFLICT (id) DO NOTHING",
    [SQ_RUN_DROP_KEY] = "UPDATE run SET dedupe_key = NULL, updated_ms = ?2 WHERE id = ?1",
    [SQ_RUN_STATUS] = "SELECT status FROM run WHERE id = ?1",
    [SQ_RUN_SET_STATUS] = "UPDATE run SET status = ?2, attempts = attempts + ?3, "
                          "last_error = CASE WHEN ?4 IS NULL THEN last_error "
                          "WHEN ?4 = '' THEN NULL ELSE ?4 END, "
                          "finished_ms = ?5, wake_at_ms = ?6, updated_ms = ?7 WHERE id = ?1",
    [SQ_RUN_SET_STEP] = "UPDATE run SET current_step = ?2, updated_ms = ?3 WHERE id = ?1",
    [SQ_RUN_SET_ERROR] = "UPDATE run SET last_error = ?2, updated_ms = ?3 WHERE id = ?1",
    [SQ_RUN_DELETE] = "DELETE FROM run WHERE id = ?1",
    [SQ_STEP_LIST] = "SELECT " STEP_COLS " FROM run_step WHERE run_id = ?1 ORDER BY seq",
    [SQ_STEP_GET] = "SELECT " STEP_COLS " FROM run_step WHERE run_id = ?1 AND name = ?2",
    [SQ_STEP_STATUS] = "SELECT status FROM run_step WHERE run_id = ?1 AND name = ?2",
    /* A restart keeps the last error (it says why the step is being retried). */
    [SQ_STEP_START] = "INSERT INTO run_step(run_id, name, seq, status, attempts, started_ms) "
                      "VALUES (?1, ?2, " STEP_NEXT_SEQ ", 'running', 1, ?3) "
                      "ON CONFLICT (run_id, name) DO UPDATE SET status = 'running', "
                      "output = NULL, attempts = attempts + 1, "
                      "started_ms = excluded.started_ms, finished_ms = 0",
    [SQ_STEP_FINISH] = "INSERT INTO run_step(run_id, name, seq, status, output, attempts, error, "
                       "started_ms, finished_ms) "
                       "VALUES (?1, ?2, " STEP_NEXT_SEQ ", ?3, ?4, 1, ?5, ?6, ?6) "
                       "ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, "
                       "output = excluded.output, error = excluded.error, "
                       "finished_ms = excluded.finished_ms",

    /* Granted (one row changed) when free, expired or already the owner's; a
     * renewal keeps acquired_ms. ?3 is now, ?4 the new expiry. */
    [SQ_LEASE_ACQUIRE] = "INSERT INTO lease(name, owner, acquired_ms, expires_ms) "
                         "VALUES (?1, ?2, ?3, ?4) "
                         "ON CONFLICT (name) DO UPDATE SET "
                         "acquired_ms = CASE WHEN lease.owner = excluded.owner "
                         "AND lease.expires_ms > excluded.acquired_ms "
                         "THEN lease.acquired_ms ELSE excluded.acquired_ms END, "
                         "owner = excluded.owner, expires_ms = excluded.expires_ms "
                         "WHERE lease.owner = excluded.owner "
                         "OR lease.expires_ms <= excluded.acquired_ms",
    [SQ_LEASE_GET] = "SELECT owner, acquired_ms, expires_ms FROM lease WHERE name = ?1",
    [SQ_LEASE_DELETE] = "DELETE FROM lease WHERE name = ?1 AND owner = ?2",

    [SQ_CHECKPOINT_GET] = "SELECT value FROM checkpoint WHERE key = ?1",
    [SQ_CHECKPOINT_PUT] = "INSERT INTO checkpoint(key, value, updated_ms) VALUES (?1, ?2, ?3) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                          "updated_ms = excluded.updated_ms",
    [SQ_CHECKPOINT_DELETE] = "DELETE FROM checkpoint WHERE key = ?1",

    [SQ_USER_INSERT] = "INSERT INTO app_user(" USER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5) "
                       "ON CONFLICT (name) DO NOTHING",
    [SQ_USER_UPDATE] = "UPDATE app_user SET role = ?2, team = coalesce(?3, team), "
                       "password_hash = coalesce(?4, password_hash) WHERE name = ?1",
    [SQ_USER_GET] = "SELECT " USER_COLS " FROM app_user WHERE name = ?1",
    [SQ_USER_LIST_ALL] = "SELECT " USER_COLS " FROM app_user ORDER BY name LIMIT ?1 OFFSET ?2",
    [SQ_USER_LIST_TEAM] = "SELECT " USER_COLS " FROM app_user WHERE team = ?3 "
                          "ORDER BY name LIMIT ?1 OFFSET ?2",
    [SQ_USER_DELETE] = "DELETE FROM app_user WHERE name = ?1",
    [SQ_TOKEN_INSERT] = "INSERT INTO token(" TOKEN_COLS ") VALUES (?1, ?2, ?3, ?4, 0) "
                        "ON CONFLICT (hash) DO NOTHING",
    [SQ_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM token WHERE hash = ?1",
    [SQ_TOKEN_TOUCH] = "UPDATE token SET last_used_ms = ?2 WHERE hash = ?1 AND last_used_ms <= ?3",
    [SQ_TOKEN_LIST_ALL] = "SELECT " TOKEN_COLS " FROM token "
                          "ORDER BY created_ms DESC, rowid DESC LIMIT ?1",
    [SQ_TOKEN_LIST_USER] = "SELECT " TOKEN_COLS " FROM token WHERE user_name = ?2 "
                           "ORDER BY created_ms DESC, rowid DESC LIMIT ?1",
    [SQ_TOKEN_DELETE] = "DELETE FROM token WHERE hash = ?1",
};
