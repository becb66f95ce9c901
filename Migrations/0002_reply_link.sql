-- Links an assistant message to the user message it answers, so a repeated post with the same
-- client_message_id finds the reply it already started.
ALTER TABLE messages ADD COLUMN reply_to TEXT;
CREATE INDEX messages_by_reply_to ON messages(reply_to) WHERE reply_to IS NOT NULL;
