package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestGreetEchoesThePath(t *testing.T) {
	response := httptest.NewRecorder()
	greet(response, httptest.NewRequest(http.MethodGet, "/hello", nil))
	if response.Code != http.StatusOK {
		t.Fatalf("status %d, want %d", response.Code, http.StatusOK)
	}
	if body := response.Body.String(); !strings.Contains(body, "You asked for /hello") {
		t.Errorf("body %q does not echo the path", body)
	}
}

func TestGreetAnswersInPlainText(t *testing.T) {
	response := httptest.NewRecorder()
	greet(response, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := response.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", got)
	}
}

func TestGreetNamesTheResponse(t *testing.T) {
	response := httptest.NewRecorder()
	greet(response, httptest.NewRequest(http.MethodGet, "/", nil))
	if _, err := uuid.Parse(response.Header().Get("X-Request-Id")); err != nil {
		t.Errorf("X-Request-Id is not a UUID: %v", err)
	}
}
