-- Assets get a Chinese name beside their name, as departments and districts have had
-- since 001: every screen, message and report names an asset in the reader's language
-- (schemas/names.py), and the registry keeps both.
ALTER TABLE assets ADD COLUMN name_zh text;
