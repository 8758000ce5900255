module example.com/fast-builds

go 1.21
