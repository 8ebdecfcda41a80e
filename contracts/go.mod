module github.com/gtmhub/gtmhub/contracts

go 1.26.0

require (
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	github.com/segmentio/encoding v0.5.4
	github.com/valyala/fastjson v1.6.10
	golang.org/x/text v0.44.0
)

require (
	github.com/segmentio/asm v1.1.3 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
