"""Write passages.jsonl, the labelled set shipped for `crossrank eval`.

Hand-written queries with hand-graded passages (3 answers the query, 2 mostly
answers, 1 on topic without the answer, 0 off topic or a near miss). In each
query marked long=True the label-3 and label-2 passages are long instead:
the answer placed after 250-400 words of page boilerplate (navigation,
cookie and licence text, drawn with a fixed seed), so a head-truncated
passage loses the answer and a best_window one can keep it; a long near miss
(the label-1 passage followed by boilerplate) is added. Every query also
gets six passages of other queries as label-0 negatives. The engine order is
a fixed-seed shuffle (a weak first-stage ranker). Deterministic:
python3 testdata/eval/make_set.py > testdata/eval/passages.jsonl
"""
import json
import random

BOILERPLATE = [
    "Skip to main content.", "Home | About us | Contact | Careers | Press | Sitemap.",
    "We use cookies to improve your experience on our website and to analyse traffic.",
    "By continuing to browse you agree to our use of cookies as described in our cookie policy.",
    "Manage your preferences at any time from the settings page linked in the footer.",
    "Subscribe to our newsletter for weekly updates, offers and announcements from our team.",
    "Your email address will never be shared with third parties and you can unsubscribe at any time.",
    "All content on this site is provided for general information only and may change without notice.",
    "Reproduction of any material requires prior written permission from the publisher.",
    "Follow us on social media and share this page with your friends and colleagues.",
    "Advertisement.", "Related categories: news, lifestyle, travel, science, technology, opinion.",
    "This article was last reviewed by our editorial team and updated for accuracy.",
    "Reader comments are moderated and may take up to one business day to appear.",
    "Sign in or create a free account to save articles and personalise your reading list.",
    "Print this page. Email this page. Report a problem with this page.",
    "Accessibility statement, privacy notice and terms of use are available below.",
    "Our support team is available Monday to Friday from nine in the morning to five in the evening.",
    "Download our mobile application for offline reading and push notifications.",
    "Table of contents: introduction, background, details, frequently asked questions, references.",
]

# (query, [(label, passage)], long) — long: the label-3 and label-2 passages
# also appear deep inside boilerplate.
SET = [
    ("how long should I boil an egg for a soft yolk", [
        (3, "For a soft, runny yolk, lower the egg into boiling water and cook it for six minutes, then cool it in cold water."),
        (2, "Soft boiled eggs take about five to seven minutes in simmering water depending on their size."),
        (1, "Eggs are a good source of protein and can be boiled, fried, poached or scrambled."),
        (0, "Hard boiled eggs keep in the fridge for up to a week if left in their shells."),
        (0, "Egg shells can be added to compost to return calcium to garden soil."),
    ], True),
    ("what causes the seasons on earth", [
        (3, "Seasons happen because the earth's axis is tilted about 23.5 degrees, so each hemisphere receives more direct sunlight for part of the year."),
        (2, "The tilt of the planet's rotation axis changes how high the sun climbs in the sky over the year, which makes summer and winter."),
        (1, "Earth orbits the sun once every 365.25 days on a nearly circular path."),
        (0, "Many people wrongly believe summer is warmer because the earth is closer to the sun."),
        (0, "The four seasons are spring, summer, autumn and winter in temperate regions."),
    ], True),
    ("symptoms of vitamin d deficiency", [
        (3, "A lack of vitamin D can cause bone pain, muscle weakness, tiredness and, in children, soft bones known as rickets."),
        (2, "Low vitamin D levels are linked to fatigue and aching muscles and bones."),
        (1, "Vitamin D is made in the skin when it is exposed to sunlight."),
        (0, "Vitamin C is found in citrus fruit, peppers and broccoli."),
        (0, "Iron deficiency often shows as pale skin and shortness of breath."),
    ], True),
    ("how do vaccines train the immune system", [
        (3, "A vaccine shows the immune system a harmless piece or weakened form of a pathogen, so it makes antibodies and memory cells that respond quickly to a real infection later."),
        (2, "After vaccination the body keeps memory B and T cells that recognise the germ."),
        (1, "Vaccination schedules differ between countries and age groups."),
        (0, "Antibiotics kill bacteria but have no effect on viruses."),
        (0, "The first vaccine was developed against smallpox in the eighteenth century."),
    ], True),
    ("why is the sky blue", [
        (3, "The sky looks blue because air molecules scatter short blue wavelengths of sunlight much more than long red ones, an effect called Rayleigh scattering."),
        (2, "Blue light is scattered in all directions by the gases of the atmosphere, so blue reaches our eyes from every part of the sky."),
        (1, "Sunsets are red and orange because sunlight travels through more air near the horizon."),
        (0, "The ocean is blue mostly because water absorbs red light."),
        (0, "Blue is the favourite colour of many people in surveys."),
    ], True),
    ("how to remove a stripped screw", [
        (3, "Press a wide rubber band between the screwdriver and the stripped head for grip, or use a screw extractor bit turned counterclockwise with a drill."),
        (2, "A screw extractor kit bites into a damaged screw head so it can be backed out."),
        (1, "Stripped screws usually come from using the wrong size of screwdriver."),
        (0, "Wood screws have a tapered thread while machine screws have a straight one."),
        (0, "A cordless drill with two batteries is useful for most home projects."),
    ], True),
    ("what is the boiling point of water at high altitude", [
        (3, "Water boils at a lower temperature at altitude because the air pressure is lower: about 90 degrees Celsius at 3,000 metres instead of 100 at sea level."),
        (2, "On a high mountain water boils below 100 degrees Celsius, so food takes longer to cook."),
        (1, "Atmospheric pressure decreases as you climb higher above sea level."),
        (0, "Salt added to water raises its boiling point only slightly."),
        (0, "Water freezes at zero degrees Celsius at normal pressure."),
    ], True),
    ("how does compound interest work", [
        (3, "With compound interest you earn interest on the interest already added: each period the rate is applied to the new, larger balance, so savings grow exponentially."),
        (2, "Compounding means interest is added to the principal and then itself earns interest."),
        (1, "Banks publish the annual percentage yield of their savings accounts."),
        (0, "Simple interest is paid only on the original amount of a loan."),
        (0, "Inflation reduces the purchasing power of money over time."),
    ], True),
    ("what do honey bees do in winter", [
        (3, "In winter honey bees cluster tightly in the hive and shiver their flight muscles to keep the queen warm, living on the honey they stored in summer."),
        (2, "Worker bees form a winter cluster and eat stored honey for energy."),
        (1, "A honey bee colony can have tens of thousands of workers in summer."),
        (0, "Bumblebee queens hibernate alone underground during the cold months."),
        (0, "Honey never spoils when it is kept in a sealed jar."),
    ], True),
    ("how to keep basil plants alive indoors", [
        (3, "Indoor basil needs six or more hours of direct sun a day, soil kept moist but well drained, and regular pinching of the tips so it bushes out instead of flowering."),
        (2, "Put potted basil on a sunny windowsill and water it when the top of the soil feels dry."),
        (1, "Basil is an annual herb from the mint family used in Italian cooking."),
        (0, "Rosemary tolerates drought better than most kitchen herbs."),
        (0, "Pesto is made from basil, pine nuts, garlic, parmesan and olive oil."),
    ], True),
    ("capital of australia", [
        (3, "Canberra is the capital city of Australia, chosen as a compromise between Sydney and Melbourne."),
        (1, "Sydney is the largest city in Australia and home to its famous opera house."),
        (0, "Melbourne hosts the Australian Open tennis tournament every January."),
        (0, "The capital of Austria is Vienna."),
        (0, "Australia is divided into six states and two territories."),
    ], False),
    ("who wrote pride and prejudice", [
        (3, "Pride and Prejudice is a novel by Jane Austen, first published in 1813."),
        (2, "Jane Austen's best known book follows Elizabeth Bennet and Mr Darcy."),
        (1, "Many film and television adaptations of classic English novels were made in the 1990s."),
        (0, "Charlotte Bronte wrote Jane Eyre under the pen name Currer Bell."),
        (0, "Prejudice is a preconceived opinion not based on reason or experience."),
    ], False),
    ("difference between a virus and bacteria", [
        (3, "Bacteria are single-celled living organisms that can reproduce on their own, while viruses are much smaller particles that can only multiply inside a host's cells."),
        (2, "Unlike bacteria, viruses need to infect a living cell to replicate."),
        (1, "Both bacteria and viruses can cause infectious diseases."),
        (0, "Fungi include yeasts, moulds and mushrooms."),
        (0, "Hand washing with soap reduces the spread of many infections."),
    ], False),
    ("how many bones are in the adult human body", [
        (3, "An adult human skeleton has 206 bones; babies are born with around 270 that fuse as they grow."),
        (1, "The femur, or thigh bone, is the longest bone in the human body."),
        (0, "Calcium and vitamin D keep bones strong."),
        (0, "Sharks have skeletons made of cartilage rather than bone."),
        (0, "The human heart beats about one hundred thousand times a day."),
    ], False),
    ("what is photosynthesis", [
        (3, "Photosynthesis is the process by which plants use light energy to turn carbon dioxide and water into glucose and oxygen."),
        (2, "Plants capture sunlight with chlorophyll and make sugar from carbon dioxide and water."),
        (1, "Leaves are green because chlorophyll reflects green light."),
        (0, "Animals get energy by eating plants or other animals."),
        (0, "Photography comes from Greek words meaning drawing with light."),
    ], False),
    ("how to reset a home wifi router", [
        (3, "Hold the small reset button on the back of the router for about ten seconds with a paperclip until the lights flash; it restarts with factory settings."),
        (2, "A factory reset of a router erases your custom network name and password."),
        (1, "Restarting a router by unplugging it for thirty seconds can fix slow connections."),
        (0, "Mesh wifi systems use several access points to cover a large home."),
        (0, "Fibre broadband is faster than copper telephone lines."),
    ], False),
    ("when did the berlin wall fall", [
        (3, "The Berlin Wall fell on 9 November 1989, when East Germany opened its border crossings."),
        (1, "The Berlin Wall was built in 1961 to stop people leaving East Germany."),
        (0, "Germany was reunified on 3 October 1990."),
        (0, "Berlin is famous for its museums, nightlife and the Brandenburg Gate."),
        (0, "The Great Wall of China is thousands of kilometres long."),
    ], False),
    ("best temperature to store red wine", [
        (3, "Red wine keeps best at a steady 12 to 14 degrees Celsius, away from light and vibration, with bottles lying on their side."),
        (2, "Cellars around 13 degrees Celsius are ideal for ageing wine."),
        (1, "Red wine is usually served slightly below room temperature."),
        (0, "White wine should be chilled before serving."),
        (0, "Grapes for red wine are fermented with their skins."),
    ], False),
]


def main():
    rng = random.Random(1402)
    out = []
    for n, (query, passages, long) in enumerate(SET):
        docs = [(label, text) for label, text in passages if not (long and label >= 2)]
        if long:
            for label, text in passages:
                if label >= 2:
                    words = []
                    while len(words) < rng.randint(250, 400):
                        words += rng.choice(BOILERPLATE).split()
                    docs.append((label, " ".join(words) + " " + text))
            # A long near miss: on-topic opening, no answer, then boilerplate.
            near = next(t for l, t in passages if l == 1)
            words = near.split()
            while len(words) < 300:
                words += rng.choice(BOILERPLATE).split()
            docs.append((1, " ".join(words)))
        others = [t for m, (_, ps, _) in enumerate(SET) if m != n for _, t in ps]
        docs += [(0, t) for t in rng.sample(others, 6)]
        rng.shuffle(docs)
        out.append({"id": f"q{n + 1}", "query": query, "documents": [t for _, t in docs], "labels": [l for l, _ in docs]})
    for o in out:
        print(json.dumps(o, ensure_ascii=False))


if __name__ == "__main__":
    main()
