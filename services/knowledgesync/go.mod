module github.com/gtmhub/gtmhub/services/knowledgesync

go 1.26
