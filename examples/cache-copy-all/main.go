// Command webapp is here to be rebuilt after a one-line edit (examples/_edits holds the edited file).
package main

import (
	"fmt"
	"log"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "first version")
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
