module github.com/gtmhub/gtmhub/events

go 1.26
