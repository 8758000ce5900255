// Command webapp serves a static page from ./static and one dynamic route.
package main

import (
	"fmt"
	"log"
	"net/http"
)

// --8<-- [start:hello]
// hello is computed by the program on every request.
func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Dynamic reply for %s, written by the Go binary\n", r.URL.Path)
}

// --8<-- [end:hello]

// --8<-- [start:routes]
// routes decides which handler answers which path.
func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir("static"))) // (1)!
	mux.HandleFunc("/hello", hello)                      // (2)!
	return mux
}

// --8<-- [end:routes]

func main() {
	log.Printf("webapp listening on :8080")
	log.Fatal(http.ListenAndServe(":8080", routes()))
}
