package main

import (
	"github.com/abadojack/whatlanggo"
	"github.com/sluice-data/sluice/stages/filter"
)

// whatlanggo (github.com/abadojack/whatlanggo v1.0.1, MIT) was evaluated for
// language_id and not adopted (docs/benchmarks.md, Language
// identification); -detector whatlang measures it here.

// whatlangCodes maps whatlanggo's languages (ISO 639-3 individual
// languages) to the codes language_id writes: ISO 639-1, of the
// macrolanguage where whatlanggo names one of its members (Mandarin → zh,
// Standard Arabic → ar, Iranian Persian → fa, North Azerbaijani → az,
// Eastern Yiddish → yi), and ISO 639-3 where no ISO 639-1 code exists.
var whatlangCodes = map[whatlanggo.Lang]string{
	whatlanggo.Afr: "af", whatlanggo.Aka: "ak", whatlanggo.Amh: "am", whatlanggo.Arb: "ar",
	whatlanggo.Azj: "az", whatlanggo.Bel: "be", whatlanggo.Ben: "bn", whatlanggo.Bho: "bho",
	whatlanggo.Bul: "bg", whatlanggo.Ceb: "ceb", whatlanggo.Ces: "cs", whatlanggo.Cmn: "zh",
	whatlanggo.Dan: "da", whatlanggo.Deu: "de", whatlanggo.Ell: "el", whatlanggo.Eng: "en",
	whatlanggo.Epo: "eo", whatlanggo.Est: "et", whatlanggo.Fin: "fi", whatlanggo.Fra: "fr",
	whatlanggo.Guj: "gu", whatlanggo.Hat: "ht", whatlanggo.Hau: "ha", whatlanggo.Heb: "he",
	whatlanggo.Hin: "hi", whatlanggo.Hrv: "hr", whatlanggo.Hun: "hu", whatlanggo.Ibo: "ig",
	whatlanggo.Ilo: "ilo", whatlanggo.Ind: "id", whatlanggo.Ita: "it", whatlanggo.Jav: "jv",
	whatlanggo.Jpn: "ja", whatlanggo.Kan: "kn", whatlanggo.Kat: "ka", whatlanggo.Khm: "km",
	whatlanggo.Kin: "rw", whatlanggo.Kor: "ko", whatlanggo.Kur: "ku", whatlanggo.Lav: "lv",
	whatlanggo.Lit: "lt", whatlanggo.Mai: "mai", whatlanggo.Mal: "ml", whatlanggo.Mar: "mr",
	whatlanggo.Mkd: "mk", whatlanggo.Mlg: "mg", whatlanggo.Mya: "my", whatlanggo.Nep: "ne",
	whatlanggo.Nld: "nl", whatlanggo.Nno: "nn", whatlanggo.Nob: "nb", whatlanggo.Nya: "ny",
	whatlanggo.Ori: "or", whatlanggo.Orm: "om", whatlanggo.Pan: "pa", whatlanggo.Pes: "fa",
	whatlanggo.Pol: "pl", whatlanggo.Por: "pt", whatlanggo.Ron: "ro", whatlanggo.Run: "rn",
	whatlanggo.Rus: "ru", whatlanggo.Sin: "si", whatlanggo.Skr: "skr", whatlanggo.Slv: "sl",
	whatlanggo.Sna: "sn", whatlanggo.Som: "so", whatlanggo.Spa: "es", whatlanggo.Srp: "sr",
	whatlanggo.Swe: "sv", whatlanggo.Tam: "ta", whatlanggo.Tel: "te", whatlanggo.Tgl: "tl",
	whatlanggo.Tha: "th", whatlanggo.Tir: "ti", whatlanggo.Tuk: "tk", whatlanggo.Tur: "tr",
	whatlanggo.Uig: "ug", whatlanggo.Ukr: "uk", whatlanggo.Urd: "ur", whatlanggo.Uzb: "uz",
	whatlanggo.Vie: "vi", whatlanggo.Ydd: "yi", whatlanggo.Yor: "yo", whatlanggo.Zul: "zu",
}

// whatlangDetector runs whatlanggo: the text's script first, then, for
// scripts shared by several languages, the distance between the text's
// trigram ranks and each language's 300 most frequent trigrams.
type whatlangDetector struct{ maxChars int }

// Detect returns whatlanggo's language of the first maxChars characters
// and its confidence: 1 when the script has one language (Greek, Hangul,
// Han without kana, ...); otherwise the relative lead of the best trigram
// profile over the second, scaled to 1 at a lead of 12/(distinct trigrams)
// + 0.05. A confidence of 0 (a tie) or a text without letters give "und".
func (d whatlangDetector) Detect(text string) (string, float64) {
	info := whatlanggo.Detect(prefix(text, d.maxChars))
	code, ok := whatlangCodes[info.Lang]
	if !ok || info.Confidence <= 0 {
		return filter.UndeterminedLanguage, 0
	}
	return code, min(info.Confidence, 1)
}
