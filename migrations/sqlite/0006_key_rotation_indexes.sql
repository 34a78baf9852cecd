-- Key rotation re-wraps every data key: one UPDATE of kek_version and wrapped per key.
-- Both indexes on kek_version (subject_keys_by_kek, subject_keys_rewrap) made each of
-- those updates move two index entries as well; without them it rewrites the key row
-- alone. The re-wrap walk (list_keys_for_rewrap: kek_id = ?, kek_version < ?,
-- subject_id > ?, ORDER BY subject_id, compartment) follows the primary key, reading
-- each key once per pass; the counts per KEK version (keys status, the end of a pass)
-- scan the table. Measured in docs/performance.md (rewrap).
DROP INDEX subject_keys_by_kek;
DROP INDEX subject_keys_rewrap;
