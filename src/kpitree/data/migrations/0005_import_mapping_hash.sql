-- Version 5: what an import's mapping was, so that importing the same file
-- with the same mapping again can be recognised without reading it.
--
-- `mapping_hash` fingerprints the mapping as loaded (rules, value maps, source
-- options), the reading options and the kpitree version; NULL for syncs, bulk
-- loads and imports written before this version.
ALTER TABLE kpitree_imports ADD COLUMN mapping_hash VARCHAR;
