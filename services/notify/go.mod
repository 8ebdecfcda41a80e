module github.com/gtmhub/gtmhub/services/notify

go 1.26
