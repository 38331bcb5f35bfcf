# Synthetic A2P (business) ham for the filter: OTPs, bank alerts, deliveries, reminders,
# top-ups, payments, notices. Written from templates by the Telegate authors, not drawn from
# any evaluation set; regenerate with `python3 conf/filter/a2p-ham-gen.py` (fixed seed).
import random
R=random.Random(20261130)
def d(n): return ''.join(R.choice('0123456789') for _ in range(n))
def amt(cur):
    v=R.choice([R.randint(1,99),R.randint(100,9999),R.randint(10000,999999)])
    c=R.randint(0,99)
    s=f"{v:,}.{c:02d}" if R.random()<0.8 else f"{v}.{c:02d}"
    return R.choice([f"{cur}{s}",f"{cur} {s}"])
CUR=["GBP","£","USD","$","EUR","€","INR","Rs.","NGN","N","KES","KSh","ZAR","R","GHS","AED"]
BANK=["HSBC","Barclays","Lloyds","NatWest","Santander","Chase","Wells Fargo","Citi","Bank of America","HDFC Bank","ICICI","SBI","Axis Bank","Equity Bank","KCB","Absa","FNB","Standard Bank","Ecobank","Access Bank","Zenith","Stanbic","Revolut","Monzo","ING","BNP Paribas","Emirates NBD"]
SHOP=["Amazon","Tesco","Walmart","Uber","Bolt","Jumia","Flipkart","Shell","Starbucks","Netflix","Spotify","Apple.com","Carrefour","Shoprite","Boots","IKEA"]
CARR=["Royal Mail","DPD","DHL","UPS","FedEx","Evri","USPS","Aramex","Parcelforce","GIG Logistics","Blue Dart","PostNL"]
NET=["Vodafone","O2","EE","Airtel","MTN","Safaricom","Jio","T-Mobile","Orange","Glo","9mobile","Three"]
def mon(): return R.choice(["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"])
def date(): return R.choice([f"{R.randint(1,28):02d}/{R.randint(1,12):02d}/{R.choice(['2024','2025','26'])}",f"{R.randint(1,28)} {mon()}",f"{R.randint(1,28)}-{mon()}-2025",f"2025-{R.randint(1,12):02d}-{R.randint(1,28):02d}"])
def time(): return R.choice([f"{R.randint(0,23):02d}:{R.randint(0,59):02d}",f"{R.randint(1,12)}:{R.randint(0,59):02d}{R.choice(['am','pm','AM','PM'])}"])
def acct(): return R.choice([f"{d(2)}XXXX{d(4)}",f"****{d(4)}",f"XX{d(3)}",f"{d(3)}****{d(3)}",f"ending {d(4)}",f"A/C x{d(4)}"])
def name(): return R.choice(["John","Mary","Aisha","Rahul","Chen","Fatima","David","Grace","Samuel","Priya","Tunde","Wanjiru","Sophie","Ahmed","Lucy","Peter"])
F=[]
def fam(f): F.append(f); return f
@fam
def debit():
    c=R.choice(CUR); b=R.choice(BANK)
    return R.choice([
     f"{b}: Your acct {acct()} has been debited with {amt(c)} on {date()} at {time()}. Avl Bal: {amt(c)}. Ref {d(8)}",
     f"Debit Alert! Acct: {acct()} Amt: {amt(c)} DR Desc: POS/{R.choice(SHOP).upper()}/{d(6)} Date: {date()} Bal: {amt(c)}",
     f"{b} Alert: {amt(c)} spent on card {acct()} at {R.choice(SHOP)} on {date()}. Available balance {amt(c)}. Not you? Call the number on the back of your card.",
     f"Txn of {amt(c)} debited from {b} A/c {acct()} on {date()}. Info: UPI/{d(12)}. Avl bal {amt(c)}",
     f"You paid {amt(c)} to {R.choice(SHOP)} with your {b} card ending {d(4)}. Balance: {amt(c)}",
     f"{b}: ATM withdrawal of {amt(c)} from acct {acct()} on {date()} {time()}. Bal {amt(c)}. If not done by you, block your card in the app.",
    ])
@fam
def credit():
    c=R.choice(CUR); b=R.choice(BANK)
    return R.choice([
     f"Credit Alert: Acct {acct()} credited with {amt(c)} from {name().upper()} {name().upper()} on {date()}. Bal: {amt(c)}",
     f"{b}: {amt(c)} has been credited to your account {acct()} on {date()}. Ref: SAL{d(6)}. Available balance: {amt(c)}",
     f"Your salary of {amt(c)} has been paid into your {b} account {acct()}.",
     f"{b}: Transfer of {amt(c)} received from {name()} into acct {acct()} at {time()}. New balance {amt(c)}.",
     f"Refund of {amt(c)} from {R.choice(SHOP)} credited to your card {acct()} on {date()}.",
    ])
@fam
def otp():
    code=d(R.choice([4,6,6,6,8])); s=R.choice(SHOP+BANK+["Google","Microsoft","WhatsApp","Facebook","PayPal","Instagram","TikTok","Binance"])
    return R.choice([
     f"{code} is your {s} verification code.",
     f"Your {s} OTP is {code}. It expires in {R.choice([5,10,15])} minutes. Do not share this code with anyone.",
     f"Use {code} to verify your {s} account. Never share this code. {s} will never call you to ask for it.",
     f"<#> {code} is your {s} login code. {d(11)}",
     f"{s}: your one-time password for the transaction of {amt(R.choice(CUR))} at {R.choice(SHOP)} is {code}. Valid for 10 mins. Do not disclose it.",
     f"G-{code} is your Google verification code.",
     f"Your security code is {code}. If you did not request it, you can ignore this message.",
     f"{code} - use this code to sign in to {s}. Requested at {time()}.",
    ])
@fam
def delivery():
    c=R.choice(CARR); n=d(R.choice([10,12,14]))
    return R.choice([
     f"{c}: Your parcel {n} will be delivered today between {time()} and {time()}. Track it in the {c} app.",
     f"Your {R.choice(SHOP)} order #{d(9)} has been dispatched and will arrive on {date()}.",
     f"{c}: we tried to deliver your parcel today but nobody was in. It is at your local depot; you can collect it from tomorrow with ID.",
     f"Hi {name()}, your order is out for delivery with {c}. Driver: {name()}. Expected by {time()}.",
     f"Your package {n} was delivered at {time()} and left with your neighbour at no. {R.randint(1,99)}.",
     f"{R.choice(SHOP)}: Order {d(3)}-{d(7)}-{d(7)} shipped. Arriving {R.choice(['Monday','Tuesday','Wednesday','Thursday','Friday','Saturday'])}.",
    ])
@fam
def appointment():
    p=R.choice(["Dr "+name(),"the dental surgery","St Mary's Hospital","City Eye Clinic","your GP practice","the vaccination centre","Kwik Fit","the salon","the physiotherapy clinic"])
    return R.choice([
     f"Reminder: you have an appointment with {p} on {date()} at {time()}. Reply C to cancel or call {d(11)} to rebook.",
     f"Your appointment at {p} is confirmed for {R.choice(['Monday','Tuesday','Friday'])} {date()}, {time()}. Please arrive 10 minutes early.",
     f"Hi {name()}, this is a reminder of your {R.choice(['MOT','blood test','check-up','haircut','service'])} tomorrow at {time()}. To reschedule call us on {d(10)}.",
     f"{p}: your test results are ready. Please book a follow-up appointment online or call {d(11)}.",
    ])
@fam
def topup():
    n=R.choice(NET); c=R.choice(CUR)
    return R.choice([
     f"You have recharged {amt(c)} airtime successfully. Your new balance is {amt(c)}. Thank you for choosing {n}.",
     f"Dear customer, your {R.choice(['1GB','2GB','5GB','10GB','500MB'])} data bundle is active and expires on {date()} {time()}. Dial *{d(3)}# to check your balance.",
     f"{n}: Recharge of {amt(c)} successful. Main balance {amt(c)}. Validity {date()}.",
     f"You have used 80% of your data. Remaining: {R.randint(10,900)}MB. Dial *{d(3)}*{d(1)}# to buy more.",
     f"Your {n} bill of {amt(c)} is due on {date()}. Pay in the app or dial *{d(3)}#.",
     f"{n}: Your airtime balance is {amt(c)}. Bonus balance {amt(c)} valid till {date()}.",
    ])
@fam
def payment():
    c=R.choice(CUR)
    return R.choice([
     f"Payment received. Thank you, we have received {amt(c)} for invoice {d(6)} on {date()}.",
     f"Your {R.choice(['electricity','water','gas','council tax','rent','school fees'])} payment of {amt(c)} was successful. Receipt no {d(10)}.",
     f"Token: {d(4)}-{d(4)}-{d(4)}-{d(4)}-{d(4)} Units: {R.randint(10,500)}.{d(1)}kWh Amt: {amt(c)} Meter {d(11)}",
     f"Your direct debit of {amt(c)} to {R.choice(['British Gas','Thames Water','Sky','BT'])} will be collected on {date()}.",
     f"M-PESA: {d(2).upper()}{d(8)} Confirmed. {amt('Ksh')} sent to {name().upper()} {name().upper()} on {date()} at {time()}. New balance is {amt('Ksh')}.",
    ])
@fam
def security():
    s=R.choice(BANK+["Google","Apple","Microsoft","Facebook"])
    return R.choice([
     f"{s}: a new device signed in to your account on {date()} at {time()}. If this was you, no action is needed.",
     f"{s}: your password was changed on {date()}. If you did not do this, contact us through the official app.",
     f"{s}: your card ending {d(4)} has been blocked as requested. A replacement will arrive in 5 working days.",
     f"Your {s} PIN was changed successfully on {date()} at {time()}.",
    ])
@fam
def travel():
    return R.choice([
     f"Flight {R.choice(['BA','EK','KQ','AI','LH','DL'])}{d(3)} to {R.choice(['London','Dubai','Nairobi','Mumbai','Lagos','New York'])} on {date()} is now boarding at gate {R.choice('ABCD')}{R.randint(1,40)}.",
     f"Your train {time()} to {R.choice(['Leeds','Manchester','Bristol','Pune'])} is delayed by {R.randint(5,60)} minutes. We apologise for the inconvenience.",
     f"Your booking {d(6)} at {R.choice(['Hilton','Ibis','Premier Inn','Marriott'])} is confirmed: check-in {date()}, {R.randint(1,5)} nights.",
     f"Your {R.choice(['Uber','Bolt','Ola','Lyft'])} driver {name()} is arriving in {R.randint(1,9)} min in a {R.choice(['white Toyota','black Prius','silver Honda'])} {d(3)}.",
    ])
@fam
def notice():
    return R.choice([
     f"Dear parents, school closes at {time()} on {date()} for the half term. Classes resume on {date()}.",
     f"Reminder: the PTA meeting holds on {date()} at {time()} in the school hall. All parents are expected to attend.",
     f"Dear member, our annual general meeting is on {date()} at {time()}. Venue: the community centre.",
     f"Sunday service starts at {time()}. Choir practice holds on Saturday at {time()}. God bless you.",
     f"Dear students, the {R.choice(['exam','lecture','seminar','lab'])} timetable for next week has been posted on the notice board.",
     f"Your council bin collection is moving to {R.choice(['Monday','Tuesday','Thursday'])} from {date()}.",
     f"Water supply will be interrupted on {date()} from {time()} to {time()} for maintenance works. We regret any inconvenience.",
     f"Weather warning: heavy rain expected in your area on {date()}. Avoid unnecessary travel.",
    ])
@fam
def pharmacy():
    return R.choice([
     f"Your prescription is ready for collection at {R.choice(['Boots','Lloyds Pharmacy','CVS','Walgreens','Apollo Pharmacy'])}. Please bring ID.",
     f"Your COVID-19 booster appointment is booked for {date()} at {time()}. Reference {d(8)}.",
    ])
out=[]
seen=set()
for f in F:
    k=0
    while k<40:
        t=f()
        if t in seen: continue
        seen.add(t); out.append(t); k+=1
R.shuffle(out)
with open('conf/filter/a2p-ham.tsv','w') as fh:
    for t in out: fh.write('ham\t'+t+'\n')
print(len(out))
