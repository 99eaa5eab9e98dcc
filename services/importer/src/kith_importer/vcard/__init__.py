"""vCard import (importer.md §12): parse an uploaded .vcf, write contacts, then completed."""
