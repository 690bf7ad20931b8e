def execute_command(image):
    # Question: Is there a sign with a number greater than 80?
    image_patch = ImagePatch(image)
    for sign_patch in image_patch.find("sign"):
        text = sign_patch.simple_query("What does the sign say?").strip()
        if text.isdigit() and int(text) > 80:
            # Digits are easy to misread (8 vs 3): confirm the number before answering
            if sign_patch.verify_property("sign", f"says {text}"):
                return "yes"
    return "no"
