# Independent re-implementation of NeMo Curator's heuristic filter scores,
# written from the definitions (words = str.split(), lines = non-blank
# pieces between \n, paragraphs = split("\n\n"), regexes and word lists as
# NeMo defines them in utils/constants.py, Apache-2.0). Reads JSONL on stdin,
# prints one tab-separated line of the 28 scores of NeMo's English pipeline
# per document, in bench/filterscores' order; needs Python's regex module.
#
#   python3 bench/nemo_crosscheck.py < corpus.jsonl > py.tsv
import sys, json, re, regex
from collections import Counter
alpha = regex.compile("[[:alpha:]]")
alnum = re.compile("[a-zA-Z0-9\n?!,.]")
url = re.compile("http[s]?://(?:[a-zA-Z]|[0-9]|[$\\-_@.&+]|[!*\\(\\),]|(?:%[0-9a-fA-F][0-9a-fA-F]))+")
paren = re.compile(r"{|}|⟨|⟩|\[|\]|\(|\)")
ell = {"...", "[...]", "…", "(...)", "[…]", "-»", "read more..", "read more"}
bul = {"•","‣","⁃","⁌","⁍","∙","○","●","◘","◦","⦾","⦿"}
common = {"the","be","to","of","and","that","have","with"}
policy = ["terms of use","privacy policy","cookie policy","uses cookies","privacy overview","use of cookies","use cookies","privacy & cookies policy","privacy and cookies policy",
  # NeMo's five long cookie notices (constants.py), lower case
  "this website uses cookies to improve your experience while you navigate through the website. out of these cookies, the cookies that are categorized as necessary are stored on your browser as they are essential for the working of basic functionalities of the website. we also use third-party cookies that help us analyze and understand how you use this website. these cookies will be stored in your browser only with your consent. you also have the option to opt-out of these cookies. but opting out of some of these cookies may have an effect on your browsing experience.",
  "necessary cookies are absolutely essential for the website to function properly. this category only includes cookies that ensures basic functionalities and security features of the website. these cookies do not store any personal information.",
  "any cookies that may not be particularly necessary for the website to function and is used specifically to collect user personal data via analytics, ads, other embedded contents are termed as non-necessary cookies. it is mandatory to procure user consent prior to running these cookies on your website.",
  "this site uses cookies, including for analytics, personalization, and advertising purposes. for more information or to change your cookie settings, click here.",
  "if you continue to browse this site without changing your cookie settings, you agree to this use. acceptread more"]
def r(a,b,e): return a/b if b else e
def lines(t): return [x for x in t.split("\n") if x.strip()]
def scores(t):
    w = t.split(); n=len(t); L=lines(t); P=t.split("\n\n")
    out=[]
    out.append(r(n-len(alnum.findall(t)),n,1.0))
    out.append(r(sum(1 for x in w if x in ell or len(re.findall("#+",x))/len(x)>0.5),len(w),1.0))
    out.append(r(len(re.findall("[0-9]",t)),n,1.0))
    out.append(r(sum(len(u) for u in url.findall(t)),n,1.0))
    out.append(r(sum(1 for c in t if c in "\t\n\r\b "),n,1.0))
    out.append(r(len(paren.findall(t)),n,1.0))
    bp=0; lor=False
    for p in P:
        q=p.strip().lower()
        if "lorem ipsum" in q: lor=True; break
        if any(s in q for s in policy): bp+=1
    out.append(1.0 if lor else bp/len(P))
    out.append(r(len(set(L)),len(L),0.0))
    out.append(0.0 if not t.strip() else len(set(P))/len(P))
    out.append(r(len("".join(set(L))),len("".join(L)),0.0))
    out.append(r(len("".join(set(P))),len("".join(P)),0.0))
    out.append(len(w))
    out.append(r(sum(1 for s in L if not s.strip().endswith((".","?","!",'"',"'"))),len(L),1.0))
    out.append(r(sum(1 for x in w if alpha.search(x)),len(w),0.0))
    c=0
    for x in w:
        if x in common: c+=1
        if c>=2: break
    out.append(c)
    out.append(r(sum(len(x) for x in w),len(w),0.0))
    out.append(max((len(x) for x in w), default=1001))
    out.append(r(sum(1 for s in L if any(s.strip().lower().endswith(e) for e in ell)),len(L),1.0))
    for k in (2,3,4):
        if len(w)<k: out.append(1.0); continue
        g=list(zip(*[w[i:] for i in range(k)]))
        cnt=Counter(g); best=max(cnt.values())
        first=next(x for x in g if cnt[x]==best)   # earliest among the most frequent
        s=" ".join(first)
        out.append(r(n-len(t.replace(s,"")),n,1.0))
    for k in range(5,11):
        if len(w)<k: out.append(1.0); continue
        g=list(zip(*[w[i:] for i in range(k)]))
        cnts={}; dup=0; ov=0
        for x in g:
            cnts[x]=cnts.get(x,0)+1
            if cnts[x]>1:
                dup+=sum(len(y) for y in x[ov:])+min(k-ov,k-1); ov=k
            ov=max(ov-1,0)
        out.append(r(dup,n,1.0))
    out.append(r(sum(1 for s in L if any(s.strip().startswith(b) for b in bul)),len(L),1.0))
    return out
print("id")
for line in sys.stdin:
    d=json.loads(line)
    print(d["id"]+"\t"+"\t".join(repr(float(x)) for x in scores(d["text"])))
