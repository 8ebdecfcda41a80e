module github.com/gtmhub/gtmhub/services/ingest

go 1.26
