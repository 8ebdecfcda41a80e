module github.com/gtmhub/gtmhub/services/store

go 1.26
