#!/bin/sh
echo "configured at build time"
