-- A user's conversations are listed per bot: an embed token sees only those of its own bot
-- (`bid`), so the index that serves the list leads with all three owner columns.
DROP INDEX conversations_by_user;
CREATE INDEX conversations_by_owner ON conversations(workspace_id, user_id, bot_id, updated_at DESC, seq DESC);
