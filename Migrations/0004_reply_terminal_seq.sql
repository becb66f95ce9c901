-- The seq of the terminal event a reply's followers were sent, so a resume rebuilt from storage
-- (after the reply's events left memory, or after a restart) numbers that event as they saw it.
-- NULL for replies that never sent one: those left streaming by a crash.
ALTER TABLE messages ADD COLUMN terminal_seq INTEGER;
