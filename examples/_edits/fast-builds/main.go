// Command webapp answers every request with one line of plain text.
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/google/uuid"
)

// greet writes one line of plain text that echoes the requested path, and names
// the response with a random UUID in its X-Request-Id header.
func greet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Request-Id", uuid.NewString())
	fmt.Fprintf(w, "Hello again, from a rebuild. You asked for %s\n", r.URL.Path)
}

func main() {
	http.HandleFunc("/", greet)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
