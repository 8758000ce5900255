// Command webapp is here to be rebuilt: main_edited.go is this file after an edit.
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
