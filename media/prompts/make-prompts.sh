#!/bin/sh
# Regenerates the built-in IVR prompts (media/prompts/<name>.wav, 8 kHz mono
# 16-bit PCM) with espeak-ng and sox (Debian: apt-get install espeak-ng sox).
# Only needed to change a prompt: the WAVs are committed and the build embeds
# them (embed.py), so neither tool is a build dependency.
set -eu

cd "$(dirname "$0")"
for tool in espeak-ng sox; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is missing" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { # name text
	espeak-ng -v en-us -s 150 -w "$tmp/$1.wav" "$2"
	# Pad 200 ms of silence each side so the first word is not clipped
	# while the far end's jitter buffer settles.
	sox "$tmp/$1.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1.wav" \
		rate -v pad 0.2 0.2 norm -3
	echo "$1.wav: $(soxi -D "$1.wav") s"
}

say enter_pin "Please enter your PIN, followed by the hash key."
say wrong_pin "That PIN is not valid. Please try again."
say goodbye "Too many attempts. Goodbye."
say not_allowed "Sorry, you are not allowed to make this call."
say please_wait "Connecting you now. Please wait."
say nobody "Sorry, there is nobody to connect you to right now."
