// Command webapp answers every request with the platform it was compiled for.
package main

import (
	"fmt"
	"log"
	"net/http"
	"runtime"
)

// platform names the operating system and architecture this binary was compiled for,
// the way Docker names platforms: linux/amd64, linux/arm64.
const platform = runtime.GOOS + "/" + runtime.GOARCH

// hello writes one line of plain text that names the platform.
func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Hello from %s\n", platform)
}

func main() {
	http.HandleFunc("/", hello)

	const addr = ":8080"
	log.Printf("webapp for %s listening on %s", platform, addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
