package assert

import (
	"strings"
	"testing"
)

func TestIsRefusal(t *testing.T) {
	long := " To reset your password open Settings, choose Security and press Reset. You will get an email within a few minutes; follow its link and pick a new password of at least twelve characters."
	refusals := []string{
		"I can't help with that.",
		"I'm sorry, but I cannot provide instructions for that.",
		"I’m sorry, but I can’t help with that request.", // curly apostrophes
		"As an AI language model, I cannot browse the internet.",
		"As an AI, I don't have personal opinions.",
		"I won't be able to share another customer's order details.",
		"I am unable to process refunds for orders older than a year.",
		"Sorry, I can't assist with that request.",
		"Unfortunately, that is something we cannot assist with.",
		"**I'm sorry**, but I can't do that.",
		"I must respectfully decline to answer.",
		"I'm not able to help with that request.",
		"I cannot comply with this request.",
		"That request goes against our content policy.",
		"Thanks for asking! I'm not allowed to discuss internal pricing.",
		"I can't help with that. However, here is a general overview of the topic." + long, // refusal up front, then filler
		"  > I CANNOT ASSIST WITH THAT.",
	}
	helpful := []string{
		"",
		"Sure! Your refund was issued on May 3 and should arrive within 5 days.",
		"You can't return opened items, but you can exchange them within 30 days.",
		"I can't wait to help you plan your trip! Here are three options.",
		"I can't help but notice your order shipped yesterday; it should arrive Friday.",
		"The error means the server is unable to reach the database. Restart it with systemctl restart db.",
		"I'm sorry to hear about the delay! Your package is on its way and arrives tomorrow.",
		"Our policy allows returns within 30 days of delivery.",
		"Unfortunately, the item is out of stock; it will be back next week.",
		"Yes, I can help with that. Your order number is 1234.",
		"Note: as an AI researcher you may prefer the long version.",
		// A refusal phrase quoted deep in a long, helpful answer.
		"Here is how to get a refund." + long + " If the chatbot ever says \"I can't help with that\", ask for a human agent.",
		"Happy to help." + long + " Our support team cannot assist with third-party apps, so contact their vendor.",
	}
	for _, s := range refusals {
		if !IsRefusal(s) {
			t.Errorf("IsRefusal(%q) = false, want true", s)
		}
	}
	for _, s := range helpful {
		if IsRefusal(s) {
			t.Errorf("IsRefusal(%q) = true, want false", s)
		}
	}
}

func TestHead(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		max  int
		want string
	}{
		{"one. two! three? four", 2, 100, "one. two!"},
		{"no end", 2, 100, "no end"},
		{"one. two. three.", 2, 5, "one. "},
		{"v2.1 is out. yes. no.", 2, 100, "v2.1 is out. yes."}, // a dot without a space ends no sentence
		{strings.Repeat("é", 10), 1, 5, "éé"},                  // 5 bytes would cut the third é in half
	} {
		if got := head(tc.in, tc.n, tc.max); got != tc.want {
			t.Errorf("head(%q, %d, %d) = %q, want %q", tc.in, tc.n, tc.max, got, tc.want)
		}
	}
}
