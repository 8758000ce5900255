module example.com/go-app-static

go 1.21
