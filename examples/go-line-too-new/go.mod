module example.com/go-app

go 1.23.4
