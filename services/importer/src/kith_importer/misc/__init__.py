"""The misc-data phase (importer.md §8): account-wide Monica lists into Kith's misc tables."""
