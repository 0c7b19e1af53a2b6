"""Writes docs.jsonl: hand-made records, each labelled with what the Gopher
preset does with it (keep, or the rule that drops it)."""
import json

A = ("The old mill stood at the edge of the river, and every morning the miller walked down the path "
     "to open the sluice gate. Water rushed through the channel and turned the great wheel, which ground "
     "the grain that the farmers brought from the valley. In the evening the town gathered at the market "
     "to trade bread and talk about the weather, the harvest and the price of flour. It was a quiet life, "
     "but one that the people of the valley would not have traded for anything.")
B = ("Rain had fallen for three days when the bridge keeper noticed that the river was higher than it had "
     "been in years. He sent a boy to warn the families who lived near the water, and by nightfall most of "
     "them had carried their belongings to the school on the hill.\n\nThe water rose until it touched the "
     "underside of the bridge, then slowly began to fall. In the morning the fields were covered with mud, "
     "but nobody had been hurt, and the town set to work cleaning the streets.")
C = ("A lantern hung from the beam above the door of the inn, and travellers who reached the town after "
     "dark would follow its light across the square. The innkeeper kept a book in which every guest wrote "
     "a name and the place they had come from, and over the years the pages filled with the names of towns "
     "that nobody in the valley had ever seen. Children liked to read the book aloud and guess which of the "
     "strangers had been merchants, which had been pilgrims and which had simply been lost.")
vocab = ("river stone sluice gate water flow channel mill wheel grain bread field harvest season rain "
         "cloud wind valley hill forest path bridge town market lantern morning evening quiet").split()
records = [
    ({"id": "keep-1", "text": A}, "keep"),
    ({"id": "keep-2", "text": B, "source": "hand-written"}, "keep"),
    # Extra fields of any JSON type pass through untouched.
    ({"id": 3, "text": C, "meta": {"tags": ["inn", "town"], "score": 0.5}, "ok": True}, "keep"),
    ({"id": "short", "text": "Buy now!"}, "gopher_word_count"),
    ({"id": "numbers", "text": " ".join(str(10 + i) for i in range(60))}, "gopher_mean_word_length"),
    ({"id": "hashtags", "text": A + " " + " ".join("#" + w for w in vocab[:12])}, "gopher_hash_ratio"),
    ({"id": "bullets", "text": "\n".join("- The miller checks the wheel and the gate." for _ in range(20))}, "gopher_bullet_lines"),
    ({"id": "no-stop-words", "text": " ".join(vocab[i % len(vocab)] for i in range(60))}, "gopher_stop_words"),
    ({"id": "repeated-lines", "text": "\n".join("The miller opens the sluice gate every morning with care." for _ in range(10))}, "gopher_dup_line_frac"),
]
with open("docs.jsonl", "w") as f:
    for rec, expect in records:
        rec["expect"] = expect
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
