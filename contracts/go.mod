module github.com/gtmhub/gtmhub/contracts

go 1.26
