module example.com/cache-deps-first

go 1.21
