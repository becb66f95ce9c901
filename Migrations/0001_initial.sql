-- Parley's first schema: every aggregate of DESIGN.md §1.
--
-- Conventions
--   * Times are INTEGER milliseconds since the Unix epoch (UTC).
--   * Public ids (ws_…, bot_…, conv_…, msg_…) are TEXT and compared byte-exact.
--   * Tables that are paged by cursor or read in insertion order carry an INTEGER PRIMARY KEY
--     (`seq`), because SQLite may renumber the hidden rowid on VACUUM.
--   * Secrets are never stored in the clear: API keys as SHA-256, provider keys, view secrets and
--     signing keys sealed with AES-GCM under master.key.
--   * Each migration runs in its own transaction; no BEGIN/COMMIT here. Never edit a released file:
--     add the next number instead.

CREATE TABLE workspaces (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    allowed_origins    TEXT NOT NULL DEFAULT '[]',  -- JSON array of origins
    settings           TEXT NOT NULL DEFAULT '{}',  -- JSON object; absent keys take defaults
    default_bot_id     TEXT,
    view_secret_sealed BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE bots (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    provider_kind       TEXT NOT NULL CHECK (provider_kind IN ('openai', 'anthropic')),
    base_url            TEXT NOT NULL,
    api_key_sealed      BLOB,
    api_key_last4       TEXT,
    model               TEXT NOT NULL,
    system_prompt       TEXT NOT NULL DEFAULT '',
    temperature         REAL,
    max_output_tokens   INTEGER NOT NULL,
    context_tokens      INTEGER NOT NULL,
    greeting            TEXT,
    theme               TEXT NOT NULL DEFAULT '{}',  -- JSON object
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX bots_by_workspace ON bots(workspace_id, created_at);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('tokens', 'admin')),
    secret_hash   BLOB NOT NULL UNIQUE,  -- SHA-256 of the whole key
    prefix        TEXT NOT NULL,         -- first characters, for display only
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX api_keys_by_workspace ON api_keys(workspace_id, created_at);

CREATE TABLE admin_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    secret_hash  BLOB NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;

-- Ed25519 keys that sign embed tokens. The newest unretired key signs; retired keys stay in the
-- JWKS while any token they signed is unexpired (see embed_tokens.kid).
CREATE TABLE signing_keys (
    kid                 TEXT PRIMARY KEY NOT NULL,
    public_key          BLOB NOT NULL,
    private_key_sealed  BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    retired_at          INTEGER
) STRICT;

-- Every embed token issued, so that revocation by jti, user or workspace is one UPDATE and a
-- token's state is one primary-key read.
CREATE TABLE embed_tokens (
    jti           TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,
    bot_id        TEXT NOT NULL,
    kid           TEXT NOT NULL,
    api_key_id    TEXT,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX embed_tokens_by_user ON embed_tokens(workspace_id, user_id);
CREATE INDEX embed_tokens_by_kid ON embed_tokens(kid, expires_at);
CREATE INDEX embed_tokens_by_expiry ON embed_tokens(expires_at);

CREATE TABLE conversations (
    seq                   INTEGER PRIMARY KEY,
    id                    TEXT NOT NULL UNIQUE,
    workspace_id          TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id               TEXT NOT NULL,
    bot_id                TEXT NOT NULL,
    title                 TEXT,
    last_message_preview  TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;
CREATE INDEX conversations_by_user ON conversations(workspace_id, user_id, updated_at DESC, seq DESC);
CREATE INDEX conversations_by_workspace ON conversations(workspace_id, created_at);

CREATE TABLE messages (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    conversation_id    TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    workspace_id       TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    bot_id             TEXT NOT NULL,
    role               TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content            TEXT NOT NULL,
    status             TEXT CHECK (status IN ('streaming', 'complete', 'cancelled', 'failed', 'interrupted')),
    finish_reason      TEXT,
    error_code         TEXT,
    model              TEXT,
    input_tokens       INTEGER,
    output_tokens      INTEGER,
    client_message_id  TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_by_conversation ON messages(conversation_id, seq);
CREATE UNIQUE INDEX messages_by_client_id ON messages(conversation_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';
CREATE INDEX messages_by_workspace_time ON messages(workspace_id, created_at);

CREATE TABLE feedback (
    message_id    TEXT PRIMARY KEY NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    rating        TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment       TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- Append-only. Kept after a workspace is deleted so an operator can still see who did what.
CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY,
    workspace_id  TEXT,
    type          TEXT NOT NULL,
    actor         TEXT NOT NULL,   -- credential id (key_…, adm_…, env), never the secret
    user_id       TEXT,
    data          TEXT NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_by_workspace ON audit_events(workspace_id, seq);
CREATE INDEX audit_by_workspace_type ON audit_events(workspace_id, type, seq);

-- Daily roll-up of usage; the per-message figures live on messages.
CREATE TABLE usage_daily (
    workspace_id   TEXT NOT NULL,
    day            TEXT NOT NULL,  -- YYYY-MM-DD, UTC
    bot_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    messages       INTEGER NOT NULL DEFAULT 0,
    input_tokens   INTEGER NOT NULL DEFAULT 0,
    output_tokens  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, bot_id, user_id)
) STRICT, WITHOUT ROWID;
