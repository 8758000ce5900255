// Command webapp is the small HTTP server this chapter packs into images.
package main

import (
	"fmt"
	"log"
	"net/http"
)

// greet writes one line of plain text that echoes the requested path.
func greet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Hi from a Go server in a container. You asked for %s\n", r.URL.Path)
}

func main() {
	http.HandleFunc("/", greet)

	const addr = ":8080"
	log.Printf("webapp listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}

