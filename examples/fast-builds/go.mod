module example.com/fast-builds

go 1.21

require github.com/google/uuid v1.3.0
