module github.com/gtmhub/gtmhub/contracts

go 1.26.0

require (
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/text v0.44.0
)

require github.com/valyala/fastjson v1.6.10
