module github.com/gtmhub/gtmhub/services/enrich

go 1.26
