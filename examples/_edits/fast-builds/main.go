// Command webapp answers every request with one line of plain text.
package main

import (
	"fmt"
	"log"
	"net/http"
)

// greet writes one line of plain text that echoes the requested path.
func greet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Hello again, from a rebuild. You asked for %s\n", r.URL.Path)
}

func main() {
	http.HandleFunc("/", greet)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
