"""HL7 v2: parse, store, map, acknowledge; an MLLP listener and a file importer."""
