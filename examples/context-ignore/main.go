// Command webapp answers every request with one line, and logs the request.
package main

import (
	"fmt"
	"log"
	"net/http"
)

// greet logs the request, then writes one line of plain text that echoes the requested path.
func greet(w http.ResponseWriter, r *http.Request) {
	log.Printf("%s %s", r.Method, r.URL.Path)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "You asked for %s\n", r.URL.Path)
}

func main() {
	http.HandleFunc("/", greet)
	log.Print("webapp listening on :8080")
	log.Fatal(http.ListenAndServe(":8080", nil))
}
