module example.com/context-ignore

go 1.21
