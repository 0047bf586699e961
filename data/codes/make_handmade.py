import json, base64
GS='\x1d'
C44='AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=abcde'
KI13='0104600439931256215abcdEFGH1234'
lower='йцукенгшщзхъфывапролджэячсмитьбюё'
uskeys='qwertyuiop[]asdfghjkl;\'zxcvbnm,.`'
us2ru={}
for r,u in zip(lower,uskeys):
    us2ru[u]=r
    if u.isalpha(): us2ru[u.upper()]=r.upper()
us2ru.update({'{':'Х','}':'Ъ',':':'Ж','"':'Э','<':'Б','>':'Ю','~':'Ё','#':'№','@':'"','$':';','^':':','&':'?','/':'.','?':',','|':'/'})
def ru(s): return ''.join(us2ru.get(c,c) for c in s)
rows=[]
def add(inp, ki, expect, note): rows.append(dict(input=inp, ki=ki, expect=expect, note=note))
full=KI13+GS+'91EE06'+GS+'92'+C44
add(full, KI13, 'blocked', 'clothing, full code with GS, 91/92 crypto')
add(KI13+GS+'93dGVz', KI13, 'blocked', 'short crypto 93')
add(KI13, KI13, 'blocked', 'bare КИ')
add(']d2'+full, KI13, 'blocked', ']d2 symbology prefix')
add(']C1'+KI13+GS+'93dGVz', KI13, 'blocked', ']C1 prefix')
add(']Q3'+KI13+GS+'93dGVz', KI13, 'blocked', ']Q3 prefix (GS1 QR)')
add(GS+KI13+GS+'93dGVz', KI13, 'blocked', 'leading GS (FNC1)')
add(KI13+'91EE0692'+C44, KI13, 'blocked', 'GS missing (keyboard wedge)')
for form in ['<GS>','[GS]','{GS}','\\x1d','\\u001d','\\035','x1d']:
    add(KI13+form+'91EE06'+form+'92'+C44, KI13, 'blocked', 'textual GS '+form)
add('(01)04600439931256(21)5abcdEFGH1234(91)EE06(92)'+C44, KI13, 'blocked', 'bracketed AIs')
add(base64.b64encode((KI13+GS+'93dGVz').encode()).decode(), KI13, 'blocked', 'base64 of the whole code')
add(ru(']d2'+KI13+GS+'93dGVz'), KI13, 'blocked', 'typed under the Russian layout')
add(KI13[1:]+GS+'93dGVz', KI13, 'blocked', 'lost leading 0 of AI 01')
add('0104607034170059215Ab!%8'+GS+'93xYz1'+GS+'3103000350', '0104607034170059215Ab!%8', 'allowed', 'dairy, serial 6, weight')
add('0104607034170059215Ab!%8C'+GS+'93xYz1', '0104607034170059215Ab!%8C', 'blocked', 'beer, serial 7')
add('0104607034170059215Ab!%8C'+GS+'8005012345'+GS+'93xYz1', '0104607034170059215Ab!%8C', 'blocked', 'tobacco block, 8005 price')
add('0104655555555558215%\'"+;<=>?/()'+GS+'93dGVz', '0104655555555558215%\'"+;<=>?/()', 'allowed', 'serial of GS1 punctuation')
add(ru('0104655555555558215%\'"+;<=>?/()'+GS+'93dGVz'), '0104655555555558215%\'"+;<=>?/()', 'allowed', 'punctuation under the Russian layout')
add('0104655555555558215abcdEFGH12345678901'+GS+'93dGVz', '0104655555555558215abcdEFGH12345678901', 'allowed', 'electronics, serial 20')
add('04647297654361!%C5UGbACW.abcd', '04647297654361!%C5UGb', 'blocked', 'tobacco pack, 29 chars, MRP 146.30')
add('04647297654361xyzABCDACW.efgh', '04647297654361xyzABCD', 'allowed', 'tobacco pack, allowed')
add('04647297654361xyzABCD', '04647297654361xyzABCD', 'allowed', 'tobacco pack КИ, 21 chars')
add('01048657365749062155esJWe'+GS+'93dGVz', '01048657365749062155esJWe', 'blocked', 'GTIN banned by authority')
add('0104600000000008215GreyGtin0001'+GS+'93dGVz', '0104600000000008215GreyGtin0001', 'blocked', 'grey GTIN: online only')
add('0104601234567893215Medicine0001'+GS+'91EE06'+GS+'92'+C44+GS+'10LOT-42', '0104601234567893215Medicine0001', 'blocked', 'medicine, banned series LOT-42')
add('0104601234567893215Medicine0001'+GS+'91EE06'+GS+'92'+C44+GS+'10LOT-43', '0104601234567893215Medicine0001', 'allowed', 'medicine, series LOT-43')
add('0104600439931256215abcdEF93GH12', None, 'blocked', 'ambiguous without GS: 13-char or 7+93')
add('0104600439931257215abcdEFGH1234'+GS+'93dGVz', None, 'invalid', 'GTIN check digit wrong')
add('0104600439931256215abc'+GS+'93dGVz', None, 'invalid', 'serial of 4 chars')
add(']d1'+KI13, None, 'invalid', ']d1: not a GS1 DataMatrix')
add('0104600439931256215abcdЕFGH1234', None, 'invalid', 'Latin and Cyrillic mixed')
add('https://example.com/p/123', None, 'invalid', 'a URL QR code')
with open('data/codes/handmade.jsonl','w') as f:
    for r in rows: f.write(json.dumps(r, ensure_ascii=False)+'\n')
print(len(rows))
