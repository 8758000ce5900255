module example.com/context-no-ignore

go 1.21
