module github.com/s3thumb/s3thumb

go 1.26.8
