module github.com/gtmhub/gtmhub/tools

go 1.26
