module github.com/captureapi/capture/client

go 1.26.8

require github.com/oapi-codegen/nullable v1.1.0
