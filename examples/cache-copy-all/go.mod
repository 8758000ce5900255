module example.com/cache-copy-all

go 1.21
