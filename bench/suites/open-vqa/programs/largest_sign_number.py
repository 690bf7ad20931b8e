def execute_command(image):
    # Question: What is the largest number written on a sign?
    # Answer with the number, or "N/A" if no sign has a number.
    image_patch = ImagePatch(image)
    numbers = []
    for sign_patch in image_patch.find("sign"):
        text = sign_patch.simple_query("What does the sign say?")
        if text.isdigit():
            numbers.append(int(text))
        elif any(c.isdigit() for c in text):
            # partly read as digits (1O, 7S): read it again as a number
            number = sign_patch.simple_query("What number is on the sign?")
            if number.isdigit():
                numbers.append(int(number))
    if len(numbers) == 0:
        return "N/A"
    return str(max(numbers))
